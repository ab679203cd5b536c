/** What the API needs, in a module of its own so that api/server.ts and api/admin/* both import it (no import cycle). */
import type { ServiceContext } from '../shared/context.ts';

/** What the API needs: the service context without its lifecycle (the caller owns that). */
export type ApiDeps = Omit<ServiceContext, 'close'>;
