/**
 * Entry point of the `berth` binary (bin/berth imports the built copy): the process roles composed
 * here (server, apiserver, controller, agent, registry), and every client command of src/cli.
 */
import { main, type Command } from '../cli/dispatch.js';

const roles: Record<string, Command> = {
  server: { load: async () => (await import('./server.js')).serverCommand, summary: 'run the all-in-one server (API, controllers, this node\'s agent, registry); writes <data-dir>/kubeconfig' },
  apiserver: { load: async () => (await import('./apiserver.js')).apiserverCommand, summary: 'run the API server alone, on a store' },
  controller: { load: async () => (await import('./controller.js')).controllerCommand, summary: 'run the controllers (garbage collector, namespace, scheduler, node lifecycle) against an API server' },
  agent: { load: async () => (await import('./agent.js')).agentCommand, summary: 'run the node agent against an API server (registers the node, runs its containers)' },
  registry: { load: async () => (await import('./registry.js')).registryCommand, summary: 'run the OCI Distribution registry (or manage its users, --gc)' },
};

// Role commands keep running after main returns (their listeners hold the event loop); every other
// command ends when its work is done, with the exit code main gives.
process.exitCode = await main(process.argv.slice(2), roles);
