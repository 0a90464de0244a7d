import type { Handlers } from '../router';
import type { LlmService } from './llm-service';
import type { LlmModelStore } from './model-store';

/** The `llm.*` commands: thin calls into the service and the model store. */
export function llmHandlers(deps: {
  service: LlmService;
  store: LlmModelStore;
}): Pick<
  Handlers,
  | 'llm.status'
  | 'llm.models'
  | 'llm.download'
  | 'llm.cancelDownload'
  | 'llm.remove'
  | 'llm.enhance'
  | 'llm.cancel'
  | 'llm.checkEndpoint'
  | 'llm.restartEngine'
> {
  const { service, store } = deps;
  return {
    'llm.status': () => service.status(),
    'llm.models': () => service.models(),
    'llm.download': ({ modelId }) => store.download(modelId),
    'llm.cancelDownload': async ({ modelId }) => {
      await store.cancelDownload(modelId);
      return {};
    },
    'llm.remove': async ({ modelId }) => {
      await store.remove(modelId);
      return service.models();
    },
    'llm.enhance': (request) => service.enhance(request),
    'llm.cancel': ({ id }) => {
      service.cancel(id);
      return {};
    },
    'llm.checkEndpoint': (endpoint) => service.checkEndpoint(endpoint),
    'llm.restartEngine': () => service.restartEngine(),
  };
}
