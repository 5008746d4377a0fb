/** The Pulumi components for use from your own program (see the README). */
export { FlightTicketOperator, type FlightTicketOperatorArgs, type ManifestsInstall, type OlmInstall } from './flightticket-operator';
export { FlightTicket, type FlightTicketArgs } from './flight-ticket';
export { Olm, type OlmArgs } from './olm';
export { defaultSettings } from '../defaults';
