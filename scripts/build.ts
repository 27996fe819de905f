// `npm run build`: compiles src/, commands/, migrations/ and the operational scripts to dist/ one file per source
// file (same tree, so the command/component/migration discovery that walks folders relative to its own file works
// unchanged), then `node dist/main.js` runs the bot without tsx or npm.
//
// Why esbuild and not tsc: the sources import relative modules without an extension (`./app`,
// moduleResolution "Bundler"), which Node's ESM loader cannot resolve; tsc emits specifiers as written. esbuild
// transpiles each file and this script rewrites every relative import to the emitted file (`./app.js`,
// `./db/index.js`). Types are checked by `npm run typecheck` (tsc), as before.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
const outdir = resolve(ROOT, values.outdir);

// Test code and what only tests and benchmarks use stay out of the production tree.
const EXCLUDED = [/\.test\.ts$/, /\.d\.ts$/, /^src\/testing\//, /^src\/emulators\/discord\/vitest-helpers\.ts$/, /^scripts\/bench\//, /^scripts\/build\.ts$/];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sources(rel));
    else if (rel.endsWith('.ts') && !EXCLUDED.some((re) => re.test(rel))) out.push(rel);
  }
  return out;
}

/** Keeps every import external; relative ones are pointed at the emitted `.js` file. */
const relativeImportsToJs: Plugin = {
  name: 'relative-imports-to-js',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (!args.path.startsWith('.')) return { path: args.path, external: true };
      const target = resolve(args.resolveDir, args.path);
      const candidates = [`${target}.ts`, join(target, 'index.ts')];
      const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
      if (!found) throw new Error(`${relative(ROOT, args.importer)}: cannot resolve ${args.path}`);
      let spec = relative(dirname(args.importer), found).replace(/\.ts$/, '.js');
      if (!spec.startsWith('.')) spec = `./${spec}`;
      return { path: spec, external: true };
    });
  },
};

const entryPoints = ['src', 'commands', 'migrations', 'scripts'].flatMap(sources);
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints,
  outdir,
  outbase: ROOT,
  bundle: true,
  plugins: [relativeImportsToJs],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
mkdirSync(outdir, { recursive: true });
// Data files read at run time beside their module: the Discord emulator's copy of Discord's OpenAPI spec (the sandbox
// runs the emulator, which checks traffic against it).
cpSync(join(ROOT, 'src/emulators/discord/discord-api-spec'), join(outdir, 'src/emulators/discord/discord-api-spec'), { recursive: true });
// `node dist/main.js` is the production command; the program itself lives at dist/src/main.js like its source.
writeFileSync(join(outdir, 'main.js'), "import './src/main.js';\n");
process.stdout.write(`built ${entryPoints.length} files into ${relative(ROOT, outdir) || '.'}/ (node ${relative(ROOT, join(outdir, 'main.js'))})\n`);
