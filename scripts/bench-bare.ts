// Baseline for the benchmark: a bare express 5 route answering the same JSON body as /me.
import express from 'express';

const body = JSON.parse(process.env.BENCH_BODY ?? '{}');
const app = express();
app.get('/bare', (_req, res) => void res.json(body));
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
