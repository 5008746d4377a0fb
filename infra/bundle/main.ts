// `npm run bundle`: writes the OLM bundle and the offline catalog into olm-bundle/.
import { writeBundle } from './write';

console.log(`olm-bundle: wrote ${writeBundle()} files`);
