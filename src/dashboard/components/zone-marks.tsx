// Zone states as badges, each a word and a shape beside its colour: majority visible or not, fire or not,
// a pump's state. `data-state` carries the state for tests and styles.

import type { PumpStateName } from '../types.js';
import { fireMark, type Mark, majorityMark, pumpMark } from '../zone-derive.js';

export function MarkBadge(props: { mark: Mark; state?: string; testid?: string; title?: string }) {
  return (
    <span class={`mark ${props.mark.cls}`} data-testid={props.testid} data-state={props.state} title={props.title}>
      <span aria-hidden="true">{props.mark.icon}</span> {props.mark.word}
    </span>
  );
}

export function MajorityBadge({ visible }: { visible: boolean }) {
  return (
    <MarkBadge
      mark={majorityMark(visible)}
      state={visible ? 'visible' : 'lost'}
      testid="majority"
      title={
        visible
          ? 'a strict majority of the configured voters is heard: the zone can decide'
          : 'fewer than a strict majority of the configured voters is heard: no majority decision can be made'
      }
    />
  );
}

export function FireBadge({ fire }: { fire: boolean }) {
  return (
    <MarkBadge
      mark={fireMark(fire)}
      state={fire ? 'fire' : 'none'}
      testid="fire"
      title="the hub's own evaluation of the zone's detections (for display: the nodes decide)"
    />
  );
}

export function PumpBadge({ state }: { state: PumpStateName }) {
  return <MarkBadge mark={pumpMark(state)} state={state} testid="pump-state" />;
}
