import type { Logger } from 'pino';
import { CommandError, type VaultHandlers } from '../commands.js';
import { OfflineCache } from '../offline/offlineCache.js';
import { captureTemplate, createTemplateSync, type TemplateSync, type VaultDevice } from './templateSync.js';
import { TemplateVault } from './vault.js';

export { TemplateVault, VaultError, type VaultIntegrity } from './vault.js';
export { createTemplateSync, formatFamily, type VaultDevice } from './templateSync.js';

export interface VaultServices {
  /** Absent on an agent without an identity key: it cannot open templates, so it takes none. */
  vault: TemplateVault | undefined;
  templates: TemplateSync | undefined;
  offline: OfflineCache;
  handlers: Omit<VaultHandlers, 'config.apply'>;
  close(): void;
}

/**
 * The template vault (keyed by the agent's identity key) and the offline
 * cache, with the hub commands that feed them. The vault's integrity is
 * checked here, at start: a damaged file or templates this key cannot open
 * are logged, and the hub's next distribution sends them again.
 */
export function openVaultServices(options: { dataDir: string; keyPem: string | undefined; devices: () => VaultDevice[]; logger: Logger }): VaultServices {
  const log = options.logger.child({ ns: 'agent:vault' });
  const offline = new OfflineCache(options.dataDir);
  const vault = options.keyPem ? new TemplateVault(options.dataDir, options.keyPem) : undefined;
  if (vault) {
    const integrity = vault.integrityCheck();
    if (integrity.sqlite !== 'ok') log.error({ integrity: integrity.sqlite }, 'vault integrity check failed');
    for (const problem of integrity.unreadable) log.error({ templateId: problem.templateId, code: problem.code, reason: problem.message }, 'vault template unreadable');
    log.info({ templates: integrity.templates, unreadable: integrity.unreadable.length }, 'vault checked');
  }
  const templates = vault ? createTemplateSync(vault, options.devices, options.logger) : undefined;
  const needTemplates = (): TemplateSync => {
    if (!templates) throw new CommandError('no_vault', 'this agent has no identity key, so it keeps no templates; enroll it first');
    return templates;
  };
  return {
    vault,
    templates,
    offline,
    handlers: {
      'templates.put': ({ templates: deliveries }) => needTemplates().put(deliveries),
      'templates.remove': ({ templateIds }) => needTemplates().remove(templateIds),
      'templates.status': () => needTemplates().status(),
      // Capture seals for the hub, not for this agent: it works without a vault.
      'templates.capture': (params) => captureTemplate(options.devices(), params),
      'offline.cache': (document) => offline.store(document),
    },
    close() {
      vault?.close();
      offline.close();
    },
  };
}
