// Replays the fuzz corpus (test/fuzz/corpus/, grown by `npm run fuzz`) against the current build: every
// header/API program and every config document must still meet its property (test/fuzz/README.md).
// No new inputs are generated here; it stays well under 60 s.
import t from 'tap';
import { fuzz } from './fuzz/run.mjs';

t.test('the fuzz corpus replays with no failure', async (t) => {
  const lines = [];
  const s = await fuzz({
    replayOnly: true,
    live: true,
    save: false,
    configJobs: 2,
    inflight: 6,
    log: (m) => lines.push(m),
  });
  t.comment(
    `headers/API: ${s.headers.replayed} programs; config: ${s.config.replayed} documents; ${s.seconds.toFixed(1)} s`,
  );
  t.ok(s.headers.replayed > 0, 'the header/API corpus is not empty');
  t.ok(s.config.replayed > 0, 'the config corpus is not empty');
  t.equal(s.headers.crashes + s.config.crashes, 0, 'no host crash');
  t.equal(s.headers.hangs + s.config.hangs, 0, 'no hang');
  t.same(
    s.failures.map((f) => f.msgs.slice(0, 3).join(' | ').slice(0, 800)),
    [],
    lines
      .filter((l) => /FAIL/.test(l))
      .join('\n')
      .slice(0, 4000) || 'every replayed input meets its property',
  );
});
