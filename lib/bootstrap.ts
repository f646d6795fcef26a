// Runs inside every embedded Node environment (one per Envoy worker, one on the main thread for config
// validation): connects the runtime to the native binding and routes console output into Envoy's log.
import { format } from 'node:util';
import type { NativeBinding } from './generated/binding';
import { Level } from './generated/enums';
import { CONSOLE_LEVELS } from './console-levels';
import { createRuntime } from './runtime';
import { describeError } from './errors';

declare const process: NodeJS.Process & { _linkedBinding(name: string): unknown };
const native = process._linkedBinding('nodevoy') as NativeBinding;

// Failures are logged with TypeScript positions when the bundle ships source maps.
process.setSourceMapsEnabled(true);

// console.* lands in Envoy's log at the matching level; disabled levels cost one native call, no formatting.
for (const [method, level] of Object.entries(CONSOLE_LEVELS)) {
  (console as unknown as Record<string, (...args: unknown[]) => void>)[method] = (...args: unknown[]) => {
    if (native.logEnabled(level)) native.log(level, `[console] ${format(...args)}`);
  };
}

// Uncaught errors in user code outside any handler must not end the process.
process.on('uncaughtException', (e) => native.log(Level.Error, `[nodevoy] uncaught exception: ${describeError(e)}`));
process.on('unhandledRejection', (e) => native.log(Level.Error, `[nodevoy] unhandled rejection: ${describeError(e)}`));

native.registerApi(createRuntime(native));
