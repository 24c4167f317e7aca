import type { components } from "./schema";

type Schemas = components["schemas"];

export type Device = Schemas["DeviceOut"];
export type DeviceCreated = Schemas["DeviceCreated"];
export type Channel = Schemas["ChannelOut"];
export type ChannelMessage = Schemas["MessageOut"];
export type Aggregate = Schemas["AggregateOut"];
export type DeviceCommand = Schemas["CommandOut"];
export type CommandState = DeviceCommand["state"];
export type Sensor = Schemas["SensorOut"];
export type SensorUpdate = Schemas["SensorUpdate"];
export type Series = Schemas["SeriesOut"];
export type SeriesPoint = Schemas["PointOut"];
export type Latest = Schemas["LatestOut"];
export type User = Schemas["UserOut"];
export type Me = Schemas["MeResponse"];
export type Role = Schemas["Role"];
export type AppInfo = Schemas["AppOut"];
export type ChannelWrite = Schemas["ChannelWriteOut"];
export type ChannelWriteState = ChannelWrite["state"];
/** One item of a 422 answer's `detail`: `loc` names the field. */
export type ValidationItemOut = Pick<Schemas["ValidationError"], "loc" | "msg" | "type">;
export type Experiment = Schemas["ExperimentOut"];
export type ExperimentState = Schemas["ExperimentState"];
export type ExperimentPage = Schemas["ExperimentPage"];
export type ExperimentCreate = Schemas["ExperimentCreate"];
export type LogEntry = Schemas["LogEntryOut"];
export type LogEntryPage = Schemas["LogEntryPage"];
export type LoggingType = Schemas["LoggingType"];
export type StatusType = Schemas["StatusType"];
