"""``/api/v1/experiments``: WebMACS's experiment paths and shapes, and CSV export.

WebMACS's paths: ``GET``/``POST /experiments`` (a ``{page, page_size, total, data}`` page),
``GET``/``PUT``/``DELETE /experiments/{public_id}``, ``PUT /experiments/{public_id}/stop``
and ``GET /experiments/{public_id}/export/csv``. Writes answer WebMACS's
``{status, message}``, here with the ``experiment`` as it is afterwards. revlink adds
``PUT /experiments/{public_id}/start`` for an experiment created with ``"start": false``,
and refuses a second running experiment (409, naming the running one). Viewers read;
operators write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cloud.api.deps import CurrentUser, DbSession, OperatorUser, PageNumber, State
from cloud.models import Experiment, ExperimentState
from cloud.models.experiment import NAME_MAX
from cloud.services import experiments
from cloud.webhooks.events import enqueue_experiment

__all__ = ["ExperimentOut", "router"]

router = APIRouter(prefix="/experiments", tags=["experiments"])

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]


class ExperimentCreate(BaseModel):
    name: Name
    start: bool = Field(
        default=True,
        description="start it now (WebMACS always does); false creates it planned",
    )


class ExperimentUpdate(BaseModel):
    name: Name | None = None


class ExperimentOut(BaseModel):
    """WebMACS's experiment fields (``public_id``, ``name``, ``started_on``, ``stopped_on``,
    ``user_public_id``) and revlink's ``state`` and ``created_on``."""

    public_id: uuid.UUID
    name: str
    started_on: datetime | None
    stopped_on: datetime | None
    user_public_id: uuid.UUID | None
    state: ExperimentState
    created_on: datetime

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentOut:
        return cls(
            public_id=experiment.public_id,
            name=experiment.name,
            started_on=experiment.started_at,
            stopped_on=experiment.stopped_at,
            user_public_id=experiment.user_public_id,
            state=experiment.state,
            created_on=experiment.created_at,
        )


class ExperimentPage(BaseModel):
    """WebMACS's page: ``page`` (from 1), ``page_size``, ``total`` and ``data``."""

    page: int
    page_size: int
    total: int
    data: list[ExperimentOut]


class StatusOut(BaseModel):
    status: Literal["success"] = "success"
    message: str


class ExperimentStatus(StatusOut):
    experiment: ExperimentOut


def _done(message: str, experiment: Experiment) -> ExperimentStatus:
    return ExperimentStatus(message=message, experiment=ExperimentOut.of(experiment))


@router.get("")
async def list_experiments(
    user: CurrentUser,
    session: DbSession,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=experiments.MAX_PAGE_SIZE)] = 25,
) -> ExperimentPage:
    """Newest first."""
    found, total = await experiments.list_experiments(session, page=page, page_size=page_size)
    return ExperimentPage(
        page=page, page_size=page_size, total=total, data=[ExperimentOut.of(e) for e in found]
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_experiment(
    body: ExperimentCreate, user: OperatorUser, session: DbSession
) -> ExperimentStatus:
    """Create it, running from now unless ``start`` is false. 409 when ``start`` and another
    runs (WebMACS would run both), or the name is taken (WebMACS's names are unique too)."""
    now = datetime.now(UTC)
    experiment = await experiments.create_experiment(
        session, body.name, start=body.start, user_public_id=user.public_id, now=now
    )
    await enqueue_experiment(session, experiment, now)  # webhooks: in this transaction
    message = "started" if body.start else "created"
    return _done(f"Experiment successfully {message}.", experiment)


@router.get("/{public_id}")
async def get_experiment(
    public_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> ExperimentOut:
    return ExperimentOut.of(await experiments.get_experiment(session, public_id))


@router.put("/{public_id}")
async def update_experiment(
    public_id: uuid.UUID, body: ExperimentUpdate, user: OperatorUser, session: DbSession
) -> ExperimentStatus:
    """Rename it (the only field WebMACS lets change); a missing name changes nothing."""
    if body.name is None:
        experiment = await experiments.get_experiment(session, public_id)
    else:
        experiment = await experiments.rename_experiment(session, public_id, body.name)
    return _done("Experiment successfully updated.", experiment)


@router.put("/{public_id}/start")
async def start_experiment(
    public_id: uuid.UUID, user: OperatorUser, session: DbSession
) -> ExperimentStatus:
    """revlink's: start a planned experiment. 409 while another runs (naming it) or when this
    one was stopped; starting the running one again changes nothing."""
    now = datetime.now(UTC)
    experiment = await experiments.start_experiment(session, public_id, now)
    await enqueue_experiment(session, experiment, now)
    return _done("Experiment successfully started.", experiment)


@router.put("/{public_id}/stop")
async def stop_experiment(
    public_id: uuid.UUID, user: OperatorUser, session: DbSession
) -> ExperimentStatus:
    """Stop it. Stopping a stopped one keeps its stop time (WebMACS moves it); 409 for one
    never started."""
    now = datetime.now(UTC)
    experiment = await experiments.stop_experiment(session, public_id, now)
    await enqueue_experiment(session, experiment, now)
    return _done("Experiment successfully stopped.", experiment)


@router.delete("/{public_id}")
async def delete_experiment(
    public_id: uuid.UUID, user: OperatorUser, session: DbSession
) -> StatusOut:
    """Delete it; its datapoints stay, without an experiment (WebMACS deletes them). 409
    while it runs."""
    await experiments.delete_experiment(session, public_id)
    return StatusOut(message="Experiment successfully deleted.")


@router.get(
    "/{public_id}/export/csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, oldest row first"}},
)
async def export_experiment_csv(
    public_id: uuid.UUID, user: CurrentUser, state: State, session: DbSession
) -> StreamingResponse:
    """Stream the experiment's datapoints as WebMACS's columns:
    ``timestamp,event_name,event_public_id,value,unit,datapoint_public_id`` (a sensor is a
    WebMACS event; ``datapoint_public_id`` is a UUID derived from sensor, time and repeat)."""
    experiment = await experiments.get_experiment(session, public_id)
    return StreamingResponse(
        experiments.export_csv(state.db.sessions, experiment.id),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{experiments.csv_filename(experiment)}"'
        },
    )
