/**
 * The built-in rule pack: one entry per bottleneck signature (docs/analyzer.md). A new
 * rule is one file (or one export) and one line here.
 */
import type { Rule } from '../rule.js';
import { errorStorm, generatorBound } from './traffic.js';
import { cpuBound, kvCachePressure, overload } from './server.js';
import { bandwidthBoundDecode, computeBoundPrefill, throttling } from './gpu.js';
import { degradation, leak, networkClient, qualityDrift } from './trends.js';

/** generator_bound is evaluated first: it marks every other hint of the round untrustworthy. */
export function builtInRules(): Rule[] {
  return [generatorBound, errorStorm, kvCachePressure, overload, cpuBound, throttling, bandwidthBoundDecode, computeBoundPrefill, networkClient, leak, degradation, qualityDrift];
}
