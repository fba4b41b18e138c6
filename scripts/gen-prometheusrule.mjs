#!/usr/bin/env node
// Writes deploy/kubernetes/prometheusrule.yaml: alerts/llmsoak-rules.yml as a
// Prometheus Operator PrometheusRule (spec.groups = the file's groups, as is).
// Run after editing alerts/llmsoak-rules.yml; test/deploy.test.ts checks that
// the two agree.  Usage: node scripts/gen-prometheusrule.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const rules = parse(readFileSync(`${root}alerts/llmsoak-rules.yml`, 'utf8'));
const doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'llmsoak',
    labels: { 'app.kubernetes.io/name': 'llmsoak', 'app.kubernetes.io/part-of': 'llmsoak' },
  },
  spec: { groups: rules.groups },
};
const header = [
  '# GENERATED from alerts/llmsoak-rules.yml by scripts/gen-prometheusrule.mjs: do not edit here.',
  '# The Prometheus Operator loads it into every Prometheus whose ruleSelector',
  '# matches these labels (kube-prometheus-stack: add its `release: <name>` label).',
  '',
].join('\n');
writeFileSync(`${root}deploy/kubernetes/prometheusrule.yaml`, header + stringify(doc, { lineWidth: 0 }));
console.log('wrote deploy/kubernetes/prometheusrule.yaml');
