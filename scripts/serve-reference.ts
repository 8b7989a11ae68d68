/** npm run serve:reference -- --port 8000 — the embedded reference policy as an OpenAI-compatible server. */
import { Command } from 'commander';
import { startReferenceServer, REFERENCE_MODEL_ID } from '../rollouts/index.ts';
import { fail, intArg, strictCommand } from './cli.ts';

const program = strictCommand(new Command('serve:reference'))
  .description('Serve the scripted reference policy (and its sub-model) over an OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions (usage, vLLM-style logprobs + return_token_ids).')
  .option('--port <port>', 'port (0 = random)', intArg('--port', 0), 8000)
  .option('--host <host>', 'interface to bind (keep 127.0.0.1 unless you mean to expose it)', '127.0.0.1');
program.parse();
const flags = program.opts<{ port: number; host: string }>();

const server = await startReferenceServer({ port: flags.port, host: flags.host }).catch((e: Error) => fail(`cannot listen on ${flags.host}:${flags.port}: ${e.message}`));
process.stdout.write(`reference policy serving ${REFERENCE_MODEL_ID} at ${server.url}\n  try: npm run rollout -- --model ${REFERENCE_MODEL_ID} --endpoint ${server.url}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
