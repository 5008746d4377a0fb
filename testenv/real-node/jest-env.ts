/** setupFiles of the `real-node` project: testenv/kube.ts's helpers talk to the real node's cluster. */
if (process.env.FLIGHT_NODE_KUBECONFIG) process.env.FLIGHT_KUBECONFIG = process.env.FLIGHT_NODE_KUBECONFIG;
if (process.env.FLIGHT_NODE_KUBECTL) process.env.FLIGHT_KUBECTL = process.env.FLIGHT_NODE_KUBECTL;
