/**
 * The booking API of the local demo as Kubernetes objects: what the
 * controller's default bookingApiUrl (http://booking-api.<namespace>.svc:8080)
 * points at. A Deployment of the booking-service image
 * (image/booking-service-image.ts) and its Service. The API token is the
 * Secret the controller reads too (settings.bookingCredentialsSecret, key
 * `token`), created by whoever deploys it: a token does not belong in
 * manifests. Passes the restricted Pod Security level: non-root, no
 * capabilities, RuntimeDefault seccomp, read-only root (bookings live in an
 * emptyDir, so they last as long as the pod).
 *
 * Not synthesized into dist/ yet: the image has no digest lock of its own, so
 * callers pass the image reference (the real-node test passes the digest it
 * pushed).
 */
export const BOOKING_API_NAME = 'booking-api';
/** Where the booking-service image listens, keeps its data and reads its token (image/booking-service-image.ts sets them in its env). */
export const BOOKING_SERVICE_PORT = 8080;
export const BOOKING_DATA_DIR = '/var/lib/booking';
export const BOOKING_TOKEN_FILE = '/var/run/secrets/flights.com/booking/token';

export interface BookingApiOptions {
  namespace: string;
  /** e.g. ghcr.io/flight-operator/booking-service@sha256:... */
  image: string;
  /** Secret with key `token`, shared with the controller. */
  credentialsSecret: string;
}

export function bookingApiManifests(o: BookingApiOptions): object[] {
  const labels = { 'app.kubernetes.io/name': BOOKING_API_NAME, 'app.kubernetes.io/part-of': 'flight-operator' };
  const nonroot = 65532;
  const probe = { httpGet: { path: '/healthz', port: 'http' } };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: BOOKING_API_NAME, namespace: o.namespace, labels },
      spec: {
        replicas: 1,
        // One writer of the bookings store at a time.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: nonroot, runAsGroup: nonroot, fsGroup: nonroot, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'booking-service',
                image: o.image,
                ports: [{ name: 'http', containerPort: BOOKING_SERVICE_PORT }],
                readinessProbe: { ...probe, periodSeconds: 2 },
                livenessProbe: { ...probe, periodSeconds: 10 },
                resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '500m', memory: '192Mi' } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true },
                volumeMounts: [
                  { name: 'data', mountPath: BOOKING_DATA_DIR },
                  { name: 'token', mountPath: BOOKING_TOKEN_FILE.slice(0, BOOKING_TOKEN_FILE.lastIndexOf('/')), readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'data', emptyDir: { sizeLimit: '64Mi' } },
              { name: 'token', secret: { secretName: o.credentialsSecret, defaultMode: 0o440 } },
              { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: BOOKING_API_NAME, namespace: o.namespace, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: BOOKING_SERVICE_PORT, targetPort: 'http' }] },
    },
  ];
}
