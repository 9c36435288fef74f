// Runs a MicroPython script in MicroPython's WebAssembly port (a 32-bit VM):
//   node run.mjs --heap BYTES [--mount HOSTDIR:/VMDIR]... [--each CODE] SCRIPT.py
// Each mount copies a host folder into the VM's in-memory filesystem. With
// --each, CODE then runs again and again, each time as its own top-level call,
// while the script's global `_more` is true: the port collects garbage only
// between top-level calls. Output goes to stdout; an uncaught Python exception
// is printed to stderr and the exit status is 1.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

function parse(argv) {
  const opts = { heap: 0, mounts: [], each: null, script: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--heap") opts.heap = parseInt(argv[++i], 10);
    else if (argv[i] === "--mount") opts.mounts.push(argv[++i].split(":"));
    else if (argv[i] === "--each") opts.each = argv[++i];
    else opts.script = argv[i];
  }
  if (!opts.heap || !opts.script) {
    process.stderr.write("usage: node run.mjs --heap BYTES [--mount HOSTDIR:/VMDIR]... [--each CODE] SCRIPT.py\n");
    process.exit(2);
  }
  return opts;
}

function copyIn(FS, host, vm) {
  FS.mkdirTree(vm);
  for (const name of readdirSync(host)) {
    const src = join(host, name);
    const dst = vm + "/" + name;
    if (statSync(src).isDirectory()) copyIn(FS, src, dst);
    else FS.writeFile(dst, readFileSync(src));
  }
}

const opts = parse(process.argv.slice(2));
const mp = await loadMicroPython({
  heapsize: opts.heap,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  linebuffer: false,
});
for (const [host, vm] of opts.mounts) copyIn(mp.FS, host, vm);
try {
  mp.runPython(readFileSync(opts.script, "utf8"));
  if (opts.each !== null) {
    mp.runPython("import gc\ngc.collect()");  // asks for a collection: it runs as this call returns
    while (mp.globals.get("_more")) mp.runPython(opts.each);
  }
} catch (err) {
  process.stderr.write(String(err && err.message ? err.message : err) + "\n");
  process.exit(1);
}
