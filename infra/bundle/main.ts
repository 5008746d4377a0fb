// `npm run bundle`: writes the OLM bundle and the offline catalog into olm-bundle/.
import { writeBundle } from './write';

void writeBundle().then((n) => console.log(`olm-bundle: wrote ${n} files`));
