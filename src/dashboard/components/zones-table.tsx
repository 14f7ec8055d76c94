// The zones of a site (or of the fleet) in one table: majority, epoch, voters, fire, pumps; each row links
// to the zone page.

import { zoneHref } from '../router.js';
import type { ZoneSummary } from '../types.js';
import { votersText } from '../zone-derive.js';
import { Age } from './ui.js';
import { FireBadge, MajorityBadge, MarkBadge } from './zone-marks.js';

export function ZonesTable({ zones }: { zones: readonly ZoneSummary[] }) {
  return (
    <table class="grid zones" data-testid="zones-table">
      <thead>
        <tr>
          <th>zone</th>
          <th>majority</th>
          <th class="num">epoch</th>
          <th>voters</th>
          <th>fire (hub's evaluation)</th>
          <th>pumps</th>
          <th>last decision</th>
        </tr>
      </thead>
      <tbody>
        {zones.map((z) => (
          <tr
            key={z.zone}
            data-zone={z.zone}
            data-majority={z.majorityVisible ? 'visible' : 'lost'}
            data-fire={z.fire ? 'fire' : 'none'}
            data-pumps-running={z.pumpsRunning}
          >
            <td>
              <a href={zoneHref(z.zone)}>{z.zone}</a>
              {z.activates.length > 0 && <span class="muted small"> · also starts {z.activates.join(', ')}</span>}
            </td>
            <td>
              <MajorityBadge visible={z.majorityVisible} />
            </td>
            <td class="num">{z.epoch}</td>
            <td>{votersText(z.votersOnline, z.voters, z.majorityNeeded)}</td>
            <td>
              <FireBadge fire={z.fire} />
              {z.detectionsInWindow > 0 && <span class="muted small"> {z.detectionsInWindow} in window</span>}
            </td>
            <td>
              {z.pumps === 0 ? (
                <span class="muted">none</span>
              ) : z.pumpsRunning > 0 ? (
                <MarkBadge mark={{ cls: 'active', icon: '▶', word: `${z.pumpsRunning} of ${z.pumps} running` }} />
              ) : (
                <MarkBadge mark={{ cls: 'unknown', icon: '■', word: `none of ${z.pumps} running` }} />
              )}
            </td>
            <td>
              <Age time={z.lastDecisionAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
