"""The services one process shares among its requests; built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from geopy.geocoders import get_geocoder_for_service
from geopy.geocoders.base import Geocoder

from homestay.domain.gazetteer import GazetteerGeocoder
from homestay.exports.feed import ExportService
from homestay.live.feed import Live
from homestay.search.service import SearchService
from homestay.services.accounts import AccountService
from homestay.services.appeals import AppealService
from homestay.services.assignments import AssignmentService
from homestay.services.certificates import CertificateService
from homestay.services.concerns import ConcernService
from homestay.services.homestays import HomestayService
from homestay.services.inspections import InspectionService
from homestay.services.persisted import PersistedQueries
from homestay.services.photos import PhotoService
from homestay.services.plan import PlanService
from homestay.services.requests import RequestService
from homestay.services.standards import StandardService
from homestay.services.statistics import StatisticsService
from homestay.services.uploads import UploadService
from homestay.settings import Settings, SettingsError
from homestay.storage.database import Database


def make_geocoder(name: str) -> Geocoder:
    if name == "gazetteer":
        return GazetteerGeocoder()
    try:
        provider = get_geocoder_for_service(name)
    except Exception as exc:  # geopy raises its own GeocoderNotFound
        raise SettingsError(f"HOMESTAY_GEOCODER: {exc}") from None
    return provider(user_agent="homestay", timeout=5)


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    homestays: HomestayService
    inspections: InspectionService
    certificates: CertificateService
    search: SearchService
    plan: PlanService
    concerns: ConcernService
    accounts: AccountService
    requests: RequestService
    appeals: AppealService
    standards: StandardService
    statistics: StatisticsService
    persisted: PersistedQueries
    photos: PhotoService
    exports: ExportService
    uploads: UploadService
    assignments: AssignmentService
    live: Live

    async def ping(self, timeout_ms: int | None = None) -> None:
        """Whether the database answers (raises when it does not)."""
        await self.db.ping(timeout_ms=timeout_ms)

    @classmethod
    def build(cls, settings: Settings, db: Database) -> Services:
        certificates = CertificateService(db, settings.certificate_validity_days)
        plan = PlanService(db, settings.plan)
        return cls(
            settings=settings,
            db=db,
            homestays=HomestayService(db, make_geocoder(settings.geocoder)),
            inspections=InspectionService(db, settings.far_from_homestay_meters),
            certificates=certificates,
            search=SearchService(db),
            plan=plan,
            concerns=ConcernService(db),
            accounts=AccountService(db),
            requests=RequestService(db),
            appeals=AppealService(db, certificates),
            standards=StandardService(db),
            statistics=StatisticsService(db),
            persisted=PersistedQueries(db),
            photos=PhotoService(db),
            exports=ExportService(db),
            uploads=UploadService(db),
            assignments=AssignmentService(db, plan),
            live=Live(db, settings.live_per_account, settings.live_per_address),
        )
