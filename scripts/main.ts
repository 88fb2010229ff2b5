/** Process entry of the built CLI (dist/main.js, the image's entrypoint). */
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
