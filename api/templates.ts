/**
 * The built-in room composite templates (`templates/`), served at `/templates/`, with livekit-client's
 * browser build beside them: what a room composite recorder opens when the request has no custom_base_url
 * (config `template_base`). A fixed list of files: nothing else on disk is reachable.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const TEMPLATES_DIR = join(import.meta.dirname, '..', 'templates');
const livekitClientDir = dirname(createRequire(import.meta.url).resolve('livekit-client'));

/** A Map: the name comes from the URL (`/templates/constructor` names no file). */
const FILES: ReadonlyMap<string, { path: string; type: string }> = new Map([
  ['', { path: join(TEMPLATES_DIR, 'index.html'), type: 'text/html; charset=utf-8' }],
  ['index.html', { path: join(TEMPLATES_DIR, 'index.html'), type: 'text/html; charset=utf-8' }],
  ['room.js', { path: join(TEMPLATES_DIR, 'room.js'), type: 'text/javascript; charset=utf-8' }],
  ['room.css', { path: join(TEMPLATES_DIR, 'room.css'), type: 'text/css; charset=utf-8' }],
  ['livekit-client.umd.js', { path: join(livekitClientDir, 'livekit-client.umd.js'), type: 'text/javascript; charset=utf-8' }],
]);

export async function templateRoutes(app: FastifyInstance): Promise<void> {
  const cache = new Map<string, Buffer>();
  const serve = async (name: string) => {
    const file = FILES.get(name);
    if (!file) return undefined;
    let body = cache.get(name);
    if (!body) {
      body = await readFile(file.path);
      cache.set(name, body);
    }
    return { body, type: file.type };
  };
  app.get<{ Params: { file: string } }>('/templates/:file', async (request, reply) => {
    const found = await serve(request.params.file);
    if (!found) return reply.code(404).type('text/plain').send('not found');
    return reply.type(found.type).header('cache-control', 'public, max-age=300').send(found.body);
  });
  app.get('/templates', (_request, reply) => reply.redirect('/templates/'));
}
