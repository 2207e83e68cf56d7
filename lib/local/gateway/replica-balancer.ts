// Least outstanding requests between the replicas of one version: the route's weights pick the version, and
// within it a request goes to the replica with the fewest requests in flight through this gateway, ties
// broken round robin (Envoy's LEAST_REQUEST in its exact form, without sampling: a version has a handful of
// replicas here). A request counts as in flight from the moment its replica is picked until its answer has
// ended, so two requests picked at once see each other. The counts are also what the local autoscaler reads
// (requests waiting for a slot) and what draining a replica waits on (nothing in flight before it stops).

export class ReplicaBalancer {
  private readonly inFlight = new Map<string, number>();
  /** Per version, where the round robin among tied replicas goes next. */
  private readonly cursors = new Map<string, number>();

  /**
   * The replica of `version` to send the next request to, counted in flight until `done` is called; undefined
   * when there is none. `keyOf` names a replica uniquely while it runs (its base URL).
   */
  pick<T>(
    version: string,
    replicas: readonly T[],
    keyOf: (replica: T) => string,
  ): { readonly replica: T; readonly done: () => void } | undefined {
    if (replicas.length === 0) return undefined;
    const fewest = Math.min(...replicas.map((r) => this.inFlightOf(keyOf(r))));
    const tied = replicas.filter((r) => this.inFlightOf(keyOf(r)) === fewest);
    const cursor = this.cursors.get(version) ?? 0;
    this.cursors.set(version, (cursor + 1) % Number.MAX_SAFE_INTEGER);
    const replica = tied[cursor % tied.length] as T;
    const key = keyOf(replica);
    this.inFlight.set(key, fewest + 1);
    let released = false;
    return {
      replica,
      done: () => {
        if (released) return;
        released = true;
        const left = this.inFlightOf(key) - 1;
        if (left > 0) this.inFlight.set(key, left);
        else this.inFlight.delete(key);
      },
    };
  }

  /** Requests sent to the replica whose answers have not ended. */
  inFlightOf(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }

  /** Forgets a version's round-robin position (its route is gone). */
  forget(version: string): void {
    this.cursors.delete(version);
  }
}
