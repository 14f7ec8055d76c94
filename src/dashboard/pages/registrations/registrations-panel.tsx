// The overview's registrations panel (admins): "2 nodes waiting for approval", linking to #/registrations;
// nothing while no node waits.

import { hasRole } from '../../roles.js';
import { useStore } from '../../store.js';
import { useRegistrations, waitingText } from './registrations-data.js';

export function RegistrationsPanel() {
  const s = useStore();
  const admin = hasRole(s.me, 'admin');
  const { list } = useRegistrations(admin);
  const text = admin ? waitingText(list) : null;
  if (text === null) return null;
  return (
    <section class="registrations-panel" data-testid="registrations-panel" aria-label="node registrations">
      <strong data-testid="registrations-waiting">{text}</strong>{' '}
      <a href="#/registrations" data-testid="registrations-link">
        Review registrations
      </a>
    </section>
  );
}
