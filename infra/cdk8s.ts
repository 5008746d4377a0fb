/**
 * `flight-operator/cdk8s`: the constructs and charts for use in your own cdk8s
 * app (README, "Use it"). The same ones `npm run synth`, the OLM bundle and the
 * Pulumi component are built from. The typed FlightTicket class generated
 * from the CRD is `flight-operator/flightticket`.
 */
export { CrdChart } from './charts/crd-chart';
export { OperatorChart, type OperatorChartProps } from './charts/operator-chart';
export { MonitoringChart, type MonitoringChartProps, METRICS_JOB, LEADER_LEASE, RUNBOOK_URL } from './charts/monitoring-chart';
export { ExampleTicketChart, type ExampleTicketChartProps, SEED_TICKET } from './charts/example-ticket-chart';
export { BundleChart, type BundleChartProps } from './charts/bundle-chart';
export { bookingApiManifests, type BookingApiOptions, BOOKING_API_NAME } from './charts/booking-api';
export { FlightTicketCrd, type FlightTicketCrdProps, ROUTE_PATTERN, ROUTE_MAX_LENGTH } from './constructs/flightticket-crd';
export { ControllerDeployment, type ControllerDeploymentProps, CONTROLLER_LABELS } from './constructs/controller-deployment';
export { ControllerRbac, type ControllerRbacProps } from './constructs/controller-rbac';
export { ControllerNetworkPolicy, type ControllerNetworkPolicyProps } from './constructs/controller-network-policy';
export { ControllerServiceMonitor, type ControllerServiceMonitorProps } from './constructs/controller-service-monitor';
export { ControllerPrometheusRule, type ControllerPrometheusRuleProps, type AlertRule } from './constructs/controller-prometheus-rule';
export { GrafanaDashboard, type GrafanaDashboardProps, type Dashboard } from './constructs/grafana-dashboard';
export { ClusterServiceVersion, type ClusterServiceVersionProps } from './constructs/cluster-service-version';
export { generateBundle, type BundleFiles } from './bundle/generate';
export { monitoringFiles } from './monitoring/files';
export { defaultSettings, controllerImage, DEFAULT_EGRESS, ICON_SVG } from './defaults';
export { LATEST_RELEASE, RELEASES, type Release } from './releases';
export * from './settings';
export { assetPath, ASSETS, type Asset } from './assets';
