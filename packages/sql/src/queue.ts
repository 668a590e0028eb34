/**
 * Runs async work one at a time per key, in call order. Writes for one user already serialise on
 * the user's row lock in the database; queueing them here first means a burst for one hot user
 * waits in memory instead of holding pooled connections that all wait on the same row lock (and
 * all wake when it is released).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous === undefined ? work() : previous.then(work, work);
    // The tail never rejects, so one failed call does not fail the calls queued behind it.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
