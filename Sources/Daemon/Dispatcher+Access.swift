import AccountService
import AccountStore
import Authentication
import Wire

// The access requests of issue 11 (grace periods, trusted networks, exemptions). Their rows in the
// dispatch table are `.caller`: `AccessPolicy` decides what each caller may do.
extension Dispatcher {
    func performAccess(_ request: Request, caller: Caller) throws(ServiceError) -> Response {
        switch request {
        case .graceRevoke(let user):
            try service.revokeGraces(caller: caller, name: user)
            return .done
        case .accessShow(let user):
            let grants = try service.accessGrants(caller: caller, name: user)
            return .accessInfo(
                graces: grants.graces.prefix(WireProtocol.maximumAccessGrants).map(GraceInfo.init),
                exemptions: grants.exemptions.prefix(WireProtocol.maximumAccessGrants).map {
                    ExemptionInfo($0, user: user)
                }
            )
        case .organizationAccessSet(let organization, let gracePeriod, let networks, let agentNames):
            let change: Int64?? =
                switch gracePeriod {
                case .unchanged: nil
                case .daemonDefault: .some(nil)
                case .seconds(let seconds): .some(Int64(seconds))
                }
            let changed = try service.setOrganizationAccess(
                caller: caller,
                name: organization,
                gracePeriod: change,
                trustedNetworks: networks,
                agentNames: agentNames
            )
            return .organizationAccess(OrganizationAccessInfo(changed))
        case .organizationAccessShow(let organization):
            return .organizationAccess(
                OrganizationAccessInfo(try service.organization(caller: caller, name: organization).organization)
            )
        case .exemptAdd(let user, let serviceName, let until, let fromUID):
            try service.addExemption(
                caller: caller,
                name: user,
                service: serviceName,
                until: UnixTime(clamping: until),
                fromUID: fromUID
            )
            return .done
        case .exemptRemove(let user, let serviceName):
            try service.removeExemption(caller: caller, name: user, service: serviceName)
            return .done
        case .exemptList(let after, let limit):
            let page = try service.exemptions(
                caller: caller,
                after: after.isEmpty ? nil : after,
                limit: min(Int(limit), WireProtocol.maximumExemptionPageSize)
            )
            return .exemptionList(
                page.exemptions.map { ExemptionInfo($0.exemption, user: $0.account.value) },
                next: page.next?.value ?? ""
            )
        default:
            return .error(code: .malformedRequest, message: "this request is not served here")
        }
    }
}

extension GraceInfo {
    init(_ grace: Grace) {
        let (kind, key): (Kind, String) =
            switch grace.key {
            case .remoteHost(let host): (.remoteHost, host)
            case .session(let session): (.session, "\(session.id)")
            }
        self.init(
            kind: kind,
            key: key,
            grantedAt: UInt64(max(0, grace.grantedAt)),
            expiresAt: UInt64(max(0, grace.expiresAt))
        )
    }
}

extension ExemptionInfo {
    init(_ exemption: Exemption, user: String) {
        self.init(
            user: user,
            service: exemption.service,
            fromUID: exemption.fromUID,
            until: UInt64(max(0, exemption.until)),
            grantedAt: UInt64(max(0, exemption.grantedAt))
        )
    }
}

extension OrganizationAccessInfo {
    init(_ organization: Organization) {
        self.init(
            name: organization.name.value,
            gracePeriod: organization.gracePeriod.map { UInt32(clamping: $0) },
            trustedNetworks: organization.trustedNetworks.map(\.description),
            agentNames: organization.agentNames.map(\.value)
        )
    }
}
