import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import { timestamp } from './fields.js';
import { defaulterFor, listMapKeysFor } from './kindparts.js';

export const objectReference = z.strictObject({
  apiVersion: z.string().optional().describe('API version of the referent.'),
  kind: z.string().optional().describe('Kind of the referent.'),
  name: z.string().optional().describe('Name of the referent.'),
  namespace: z.string().optional().describe('Namespace of the referent.'),
  uid: z.string().optional().describe('UID of the referent.'),
  resourceVersion: z.string().optional().describe('Specific resourceVersion of the referent this event is about.'),
  fieldPath: z.string().optional().describe('Part of the referent the event is about, e.g. spec.image.'),
});
export type ObjectReference = z.infer<typeof objectReference>;

export const eventSource = z.strictObject({
  component: z.string().optional().describe('Component that reported the event, e.g. berth-agent.'),
  host: z.string().optional().describe('Node name of the reporter.'),
});
export type EventSource = z.infer<typeof eventSource>;

/** client-go serializes unset times as null, so these accept null. */
const eventTime = timestamp.nullable();

export const eventSeries = z.strictObject({
  count: z.number().int().min(0).optional().describe('Occurrences in this series up to lastObservedTime.'),
  lastObservedTime: eventTime.optional().describe('Time of the last occurrence observed.'),
});
export type EventSeries = z.infer<typeof eventSeries>;

export const event = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Event'),
  metadata: objectMeta,
  involvedObject: objectReference.describe('The object this event is about.'),
  reason: z.string().max(128).optional().describe('Short, machine-readable reason in UpperCamelCase, e.g. Pulled, Started, BackOff.'),
  message: z.string().max(32 * 1024).optional().describe('Human-readable description of what happened.'),
  source: eventSource.optional().describe('Component reporting this event (legacy; see reportingComponent).'),
  firstTimestamp: eventTime.optional().describe('When the event was first recorded.'),
  lastTimestamp: eventTime.optional().describe('When the most recent occurrence was recorded.'),
  count: z.number().int().min(0).optional().describe('Times this event has occurred.'),
  type: z.enum(['Normal', 'Warning']).default('Normal').describe('Normal or Warning. Defaults to Normal.'),
  eventTime: eventTime.optional().describe('When the event was first observed, with microsecond precision.'),
  series: eventSeries.optional().describe('Data about the series this event is part of, for repeated events.'),
  action: z.string().max(128).optional().describe('What action was taken or failed, e.g. Pull, Start.'),
  related: objectReference.optional().describe('Secondary object involved, if any.'),
  reportingComponent: z.string().optional().describe('Controller that emitted the event, e.g. berth.dev/agent.'),
  reportingInstance: z.string().optional().describe('ID of the controller instance, e.g. berth-agent-node1.'),
});
export type Event = z.infer<typeof event>;
export type EventInput = z.input<typeof event>;

export const applyEventDefaults = defaulterFor(event);

export const eventKind: KindInfo = {
  group: '',
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  plural: 'events',
  singular: 'event',
  shortNames: ['ev'],
  categories: [],
  namespaced: true,
  hasStatus: false,
  schema: event,
  printerColumns: [
    { name: 'Last Seen', type: 'date', jsonPath: '.lastTimestamp', description: 'Time of the latest occurrence.' },
    { name: 'Type', type: 'string', jsonPath: '.type', description: 'Normal or Warning.' },
    { name: 'Reason', type: 'string', jsonPath: '.reason', description: 'Why the event happened.' },
    { name: 'Object', type: 'string', jsonPath: '.involvedObject.name', description: 'Name of the object the event is about.' },
    { name: 'Message', type: 'string', jsonPath: '.message', description: 'What happened.' },
    { name: 'Kind', type: 'string', jsonPath: '.involvedObject.kind', priority: 1 },
    { name: 'Source', type: 'string', jsonPath: '.source.component', priority: 1 },
    { name: 'Count', type: 'integer', jsonPath: '.count', priority: 1 },
    { name: 'First Seen', type: 'date', jsonPath: '.firstTimestamp', priority: 1 },
  ],
  applyDefaults: applyEventDefaults,
  selectableFields: [
    'involvedObject.name',
    'involvedObject.kind',
    'involvedObject.uid',
    'involvedObject.namespace',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'type',
    'reportingComponent',
  ],
  listMapKeys: listMapKeysFor(event),
  description:
    'Event is a report of something that happened to an object: a container started, an image pull failed. Shown by describe.',
};
