/**
 * Node flags the simulator process runs with: a young generation of a fixed
 * 4 MB a semi-space. V8 otherwise starts the semi-spaces at 1 MB and grows
 * them with the allocation rate, so a fresh simulator's RSS climbs for its
 * first minute of traffic (measured at 8 req/s: 111 → 130 MB over 60 s, heap
 * used flat at ~42 MB) and a leak window that short sees a leak that is not
 * there. Fixed: 139–143 MB from the fifth second on, within the leak rule's
 * 2 % relative change. Only `--max-semi-space-size` is allowed in
 * NODE_OPTIONS, so the flags go on the command line (execArgv).
 */
export const SIMULATOR_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=4', '--max-semi-space-size=4'];
