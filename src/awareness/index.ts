// The awareness plane: frames between nodes (UDP on a shared segment, or an MQTT digest), membership
// and failure detection, and each node's view of the fleet. [FM-AWARE-1..6]
export { Aggregator, type AggregatorOptions, type AggregatorStats } from './aggregator.js';
export { type FleetNodeState, type FleetNodeView, type FleetSeriesView, type FleetSnapshot, FleetView } from './fleet-view.js';
export { type MemberState, Membership, type MembershipChange, type MembershipChangeKind, type MemberView } from './membership.js';
export { createMqttLink, type MqttLinkOptions, othersInDigest } from './mqtt-link.js';
export { type AwarenessIdentity, AwarenessPlane, type AwarenessPlaneOptions, type AwarenessStats, type CriticalCursor } from './plane.js';
export { Relay } from './relay.js';
export { AggregatorTakeover, type TakeoverOptions } from './takeover.js';
export { awareSubscription, awareTopic, digestTopic } from './topics.js';
