import type { WorkflowRecord } from '@shared/domain/workflow';
import type { ModelCatalog } from '../workflows/catalog';
import type { ModelSources } from './take-snapshot';

/**
 * Where model files can be downloaded from, as ComfyDesk knows it: the model catalog (bundled and the
 * user's) first, then addresses the library's workflows embed for that folder and file.
 */
export function knownModelSources(deps: { catalog: ModelCatalog; workflows?: () => WorkflowRecord[] }): ModelSources {
  return {
    find(folder, name) {
      const fromCatalog = deps.catalog.find(name, folder)?.url;
      if (fromCatalog) return { url: fromCatalog, source: 'catalog' };
      for (const record of deps.workflows?.() ?? []) {
        const model = record.models.find((item) => item.name === name && item.folder === folder && item.url);
        if (model?.url) return { url: model.url, source: 'workflow' };
      }
      return undefined;
    },
  };
}
