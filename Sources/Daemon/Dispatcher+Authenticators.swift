import AccountService
import AccountStore
import Authentication
import OneTimePassword
import Wire

extension Dispatcher {
    /// The authenticator requests (issue 11, items 2 and 3); `AccessPolicy` decides inside the service.
    func performAuthenticator(
        _ request: Request,
        caller: Caller,
        peer: PeerCredentials,
        session: inout Session
    ) throws(ServiceError) -> Response {
        switch request {
        case .authenticatorAddBegin(let user, let label, let algorithm, let digits, let period):
            let parameters = TOTPParameters(
                algorithm: OTPAlgorithm(algorithm) ?? TOTPParameters.standard.algorithm,
                digits: digits == 0 ? TOTPParameters.standard.digits : Int(digits),
                period: period == 0 ? TOTPParameters.standard.period : Int(period)
            )
            let offer = try service.beginAuthenticator(caller: caller, name: user, label: label, parameters: parameters)
            return .enrollmentStarted(
                otpauthURI: Array(offer.otpauthURI.utf8),
                expiresAt: UInt64(max(0, offer.expiresAt))
            )
        case .authenticatorAddConfirm(let user, let label, let code):
            session.renew(
                after: try service.confirmAuthenticator(caller: caller, name: user, label: label, code: code)
            )
            return .done
        case .authenticatorList(let user):
            return .authenticatorList(
                try service.authenticators(caller: caller, name: user).map(AuthenticatorInfo.init)
            )
        case .authenticatorRemove(let user, let label):
            session.renew(after: try service.removeAuthenticator(caller: caller, name: user, label: label))
            return .done
        case .authenticatorResync(let user, let label, let firstCode, let secondCode):
            try service.resyncAuthenticator(
                caller: caller,
                name: user,
                label: label,
                first: firstCode,
                second: secondCode,
                peerUID: peer.uid
            )
            return .done
        default:
            return .error(code: .malformedRequest, message: "this request is not served here")
        }
    }
}

extension AuthenticatorInfo {
    /// What `2fa list` shows of an authenticator: never its secret.
    init(_ authenticator: Authenticator) {
        let parameters = authenticator.credential.parameters
        let lastUsed = authenticator.lastAcceptedStep.map {
            $0.multipliedReportingOverflow(by: UInt64(parameters.period))
        }
        self.init(
            label: authenticator.label.value,
            algorithm: WireAlgorithm(parameters.algorithm),
            digits: UInt8(clamping: parameters.digits),
            period: UInt16(clamping: parameters.period),
            enrolledAt: UInt64(max(0, authenticator.enrolledAt ?? 0)),
            lastUsedAt: lastUsed.map { $0.overflow ? 0 : $0.partialValue } ?? 0,
            drift: authenticator.drift
        )
    }
}
