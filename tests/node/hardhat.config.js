// The local node of the `node` end-to-end test (tests/e2e/node.rs), and a
// dev chain for trying `zkinfer market` by hand:
//   cd .tools && node node_modules/hardhat/internal/cli/cli.js node \
//       --hostname 127.0.0.1 --port 8545 --config ../tests/node/hardhat.config.js
// (hardhat must be started from a folder where it is installed: .tools/).
// Its accounts are the PUBLICLY KNOWN dev accounts of the "test ... junk"
// mnemonic; never use them on a real network.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "prague",
      // Mainnet's EIP-170 limit: a verifier that deploys here deploys there.
      allowUnlimitedContractSize: false,
      blockGasLimit: 30_000_000,
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 10,
        accountsBalance: "10000000000000000000000", // 10,000 ETH each
      },
      mining: { auto: true, interval: 0 },
      loggingEnabled: false,
    },
  },
};
