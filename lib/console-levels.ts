// The Envoy log level each console method writes at (inside Envoy: bootstrap.ts; in the test kit: clock.ts).
import { Level } from './generated/enums';

export const CONSOLE_LEVELS = {
  trace: Level.Trace,
  debug: Level.Debug,
  log: Level.Info,
  info: Level.Info,
  warn: Level.Warn,
  error: Level.Error,
} as const;
