// The CLI bundle's `node:process` (scripts/build-cli.mjs `alias`): the global `process` as the default
// export. env-paths imports it as `import process from 'node:process'`, which esbuild turns into a copy of
// every property of `process` (a getter each) for an external module; the global is the same object.
export default process;
