// What end-to-end tests read from a running node: its fleet view (GET /api/v1/fleet) and its /metrics samples.

import assert from 'node:assert/strict';

export interface FleetAnswerNode {
  readonly origin: number;
  readonly node: string;
  readonly self: boolean;
  readonly state: string;
  readonly isolated: boolean;
  readonly suspicionsRaised: number;
  readonly lastHeardAgeMs: number;
  readonly series: readonly { readonly name: string; readonly value: number | null }[];
}

export interface FleetAnswer {
  readonly status: string;
  readonly data: {
    readonly self: number;
    readonly isolated: boolean;
    readonly nodes: readonly FleetAnswerNode[];
    readonly stats: { readonly changes: Readonly<Record<string, number>>; readonly stalls: number; readonly isolated: boolean };
  };
}

/** The node's GET /api/v1/fleet (asserts a 200). */
export async function nodeFleet(url: string): Promise<FleetAnswer> {
  const res = await fetch(`${url}/api/v1/fleet`);
  assert.equal(res.status, 200, `${url}/api/v1/fleet`);
  return (await res.json()) as FleetAnswer;
}

/** The entry of `node` in `url`'s fleet view, or undefined. */
export async function memberAt(url: string, node: string): Promise<FleetAnswerNode | undefined> {
  return (await nodeFleet(url)).data.nodes.find((n) => n.node === node);
}

/**
 * The value of a sample in the node's /metrics: `name` with every label of `labels` (`type="pulse"`); undefined
 * when the node does not expose it.
 */
export async function nodeMetric(url: string, name: string, labels = ''): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}
