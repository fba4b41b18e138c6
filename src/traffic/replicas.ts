/** Scale-out: each of N replicas sends its share of the fleet's load (DESIGN.md, "Scale beyond one machine"). */

/** This replica's share of the fleet's open-loop rate (rate / count). */
export function replicaRate(rate: number, replicas: { count: number }): number {
  return rate / replicas.count;
}

/** This replica's share of the fleet's closed-loop users: users / count, the remainder to the lowest indexes. */
export function replicaUsers(users: number, replicas: { count: number; index: number }): number {
  return Math.floor(users / replicas.count) + (replicas.index < users % replicas.count ? 1 : 0);
}
