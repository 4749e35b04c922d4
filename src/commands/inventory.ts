// `lavarank inventory`: prints this host's inventory as JSON. The daemon runs it as
// a child in a process group of its own (runIsolated) rather than in-process:
// systeminformation runs programs synchronously and without a timeout (lspci, then
// nvidia-smi; `hostname -f`; dmidecode), and one that hangs (a wedged GPU driver, an
// unanswering DNS server) would otherwise block the daemon's only thread, so no
// report would go out and SIGTERM would never be handled.
import { print } from '../util/cliio.js';
import { parseCommandLine } from '../util/options.js';
import { collectInventory } from '../collectors/inventory.js';
import { forNamedCommands } from '../util/exec.js';

const USAGE = `Usage: lavarank inventory [--no-gpus]

Prints this host's inventory (CPU, memory, disks, GPUs, OS) as JSON: what the
elim logs once after its first report. --no-gpus leaves the GPUs out, and with
them nvidia-smi, which the elim never runs with gpu.enabled false.`;

// Prints the inventory and returns 0.
export async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, { help: { type: 'boolean' }, 'no-gpus': { type: 'boolean' } });
  if (args.help === true) {
    print(USAGE);
    return 0;
  }
  forNamedCommands();
  print(JSON.stringify(await collectInventory({ timeoutMs: 10_000, gpus: args['no-gpus'] !== true })));
  return 0;
}
