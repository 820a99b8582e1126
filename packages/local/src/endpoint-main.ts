// Runs the local endpoint as its own process (see `startEndpointProcess`): prints one JSON line
// with its address, stops on SIGTERM/SIGINT, and exits when its parent goes away (stdin closes).
import { startLocalEndpoint } from './local-endpoint.js';

const [port = '0', host = '127.0.0.1', region = 'us-east-1'] = process.argv.slice(2);
const endpoint = await startLocalEndpoint({ port: Number(port), host, region });
process.stdout.write(`${JSON.stringify({ endpoint: endpoint.endpoint, port: endpoint.port, region })}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void endpoint.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
