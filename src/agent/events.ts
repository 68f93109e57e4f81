/** The agent records Events through the shared recorder of the client room. */
export { EventRecorder, type EventType } from '../client/events.js';
