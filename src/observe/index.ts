/**
 * The public part of tokenward's diagnostics channels: names, typed handles and message types. The
 * publishing helpers stay internal.
 * @module
 */

export {
  CHANNELS,
  type ChannelMessages,
  channels,
  type FlightMessage,
  type LockWaitMessage,
  type ManagerEventBase,
  type RefreshMessage,
  type RenewalFailedMessage,
  type Retry401Message,
  type ServedStaleMessage,
  type TokenRequestEndMessage,
  type TokenRequestStartMessage,
  type TokenServedMessage,
  type TypedChannel,
} from './channels.js';
