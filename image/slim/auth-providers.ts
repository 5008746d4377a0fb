/**
 * Stand-ins for client-node's azure, gcp and oidc `auth-provider` plugins
 * (dist/azure_auth.js, gcp_auth.js, oidc_auth.js) in the controller's bundle
 * (image/bundle-slim.ts). They need openid-client and jsonpath-plus, and
 * kubectl itself dropped these providers in 1.26 for exec plugins
 * (kubelogin, gke-gcloud-auth-plugin), which the bundle keeps. A kubeconfig
 * that still names one gets an error that says so, not a request without
 * credentials.
 */
interface User {
  authProvider?: { name?: string };
}

function provider(name: string) {
  return class {
    isAuthProvider(user: User | null | undefined): boolean {
      return user?.authProvider?.name === name;
    }
    async applyAuthentication(): Promise<void> {
      throw new Error(
        `kubeconfig auth-provider "${name}" is not in the controller bundle (image/bundle-slim.ts): use an exec credential plugin (client.authentication.k8s.io) instead`,
      );
    }
  };
}

export const AzureAuth = provider('azure');
export const GoogleCloudPlatformAuth = provider('gcp');
export const OpenIDConnectAuth = provider('oidc');
