// The operator console: boots the store and the live feed, and renders the page the hash names.
// The node page (and uPlot with it) loads on demand so the overview stays light.

import './styles.css';
import type { FunctionComponent } from 'preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Shell } from './components/shell.js';
import { ActionsPage } from './pages/actions/actions-page.js';
import { AlertsPage } from './pages/alerts/alerts-page.js';
import { AuditPage } from './pages/audit/audit-page.js';
import { OverviewPage } from './pages/overview/overview-page.js';
import { SitePage } from './pages/sites/site-page.js';
import { type Route, useRoute } from './router.js';
import { connectLive, loadConsoleInfo, loadMe, startPolling } from './store.js';

type NodePageProps = { site: string; node: string };
let NodePage: FunctionComponent<NodePageProps> | undefined;

function LazyNodePage(props: NodePageProps) {
  const [, setLoaded] = useState(NodePage !== undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (NodePage !== undefined) return;
    import('./pages/nodes/node-page.js').then(
      (m) => {
        NodePage = m.NodePage;
        setLoaded(true);
      },
      (err: unknown) => setError(`could not load the node page: ${String(err)}`),
    );
  }, []);
  if (error !== null) return <p class="error-line">{error}</p>;
  if (NodePage === undefined) return <p class="muted">Loading…</p>;
  return <NodePage {...props} />;
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage view={route.view} />;
    case 'site':
      return <SitePage site={route.site} />;
    case 'node':
      return <LazyNodePage key={`${route.site}/${route.node}`} site={route.site} node={route.node} />;
    case 'alerts':
      return <AlertsPage />;
    case 'actions':
      return <ActionsPage query={route.query} />;
    case 'audit':
      return <AuditPage />;
    case 'missing':
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at <code>#{route.path}</code>. <a href="#/">Back to the overview</a>.
          </p>
        </section>
      );
  }
}

function App() {
  const route = useRoute();
  useEffect(() => {
    scrollTo(0, 0);
    const names: Record<Route['page'], string> = {
      overview: 'Overview',
      site: 'Site',
      node: 'Node',
      alerts: 'Alerts',
      actions: 'Actions',
      audit: 'Audit',
      missing: 'Not found',
    };
    const detail = route.page === 'site' ? ` ${route.site}` : route.page === 'node' ? ` ${route.site}/${route.node}` : '';
    document.title = `${names[route.page]}${detail} · fieldmesh`;
  }, [route]);
  return (
    <Shell route={route}>
      <Page route={route} />
    </Shell>
  );
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}
// The feed's snapshot triggers the first fetch of sites, alerts and the overview.
connectLive();
void loadMe();
void loadConsoleInfo();
startPolling();
