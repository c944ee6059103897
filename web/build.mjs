// Bundles the user interface and the operator page into devstack/web/static/, which the
// dev stack serves (`/app` beside the gateway, `/operator` beside the admin function).
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "devstack", "web", "static");
const pages = ["app", "operator"];

rmSync(out, { recursive: true, force: true });
for (const page of pages) {
  mkdirSync(join(out, page), { recursive: true });
  cpSync(join(here, "src", page, "index.html"), join(out, page, "index.html"));
  cpSync(join(here, "src", "style.css"), join(out, page, "style.css"));
}
await build({
  entryPoints: pages.map((page) => ({ in: join(here, "src", page, "main.ts"), out: page + "/main" })),
  bundle: true,
  format: "esm",
  target: "es2022",
  sourcemap: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
console.log(`built ${pages.join(", ")} into ${out}`);
