//! Pinned identities of the bundled model: the `.zkq` model id and the vk id
//! (dev SRS seed 42). Any change to the quantizer's output or to the circuit
//! changes a deployed verifier, so it must be deliberate: when this fails on
//! purpose, update `tests/fixtures/pinned.json` with the values printed.

use crate::common::mlp_run;

#[test]
fn the_bundled_model_and_its_verifying_key_are_pinned() {
    let pinned: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/pinned.json")).unwrap();
    let run = &mlp_run().1;
    let (model_id, vk_id) = (run.model.id(), run.proof.vk_id.clone());
    let hint =
        format!("now: {{\"mlp\": {{\"model_id\": \"{model_id}\", \"vk_id\": \"{vk_id}\"}}}}");
    assert_eq!(
        pinned["mlp"]["model_id"],
        model_id.as_str(),
        "the quantized bundled model changed; {hint}"
    );
    assert_eq!(
        pinned["mlp"]["vk_id"],
        vk_id.as_str(),
        "the bundled model's circuit changed; {hint}"
    );
}
