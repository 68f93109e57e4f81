/** Docker-style build progress lines (`Step 2/5 : RUN ...`, ` ---> Using cache`). */
import type { BuildEvent } from './builder.js';

export function formatBuildEvent(e: BuildEvent): string {
  switch (e.type) {
    case 'step':
      return `Step ${e.step}/${e.total} : ${e.text}\n`;
    case 'cached':
      return ' ---> Using cache\n';
    case 'running':
      return ` ---> Running in ${e.containerId.slice(0, 12)}\n`;
    case 'output':
      return `${e.line}\n`;
    case 'removed':
      return ` ---> Removed intermediate container ${e.containerId.slice(0, 12)}\n`;
    case 'layer':
      return ` ---> ${e.diffID.slice(7, 19)}\n`;
    case 'triggers':
      return `# Executing ${e.count} build trigger${e.count === 1 ? '' : 's'}\n`;
    case 'warning':
      return `[Warning] ${e.message}\n`;
  }
}

