/** Entry point of the `berth` command (bin/berth imports the built copy). */
import { main } from './dispatch.js';

// `berth server` keeps running after main returns (its listener holds the event loop);
// every other command ends when its work is done, with the exit code main gives.
process.exitCode = await main(process.argv.slice(2));
