// Runs a long-lived service until SIGINT/SIGTERM, then stops it gracefully once.

export function stopOnSignals(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = () => {
      if (stopping) process.exit(130);
      stopping = true;
      stop().then(resolve, (err: unknown) => {
        process.stderr.write(`error while stopping: ${String(err)}\n`);
        process.exit(1);
      });
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  });
}
