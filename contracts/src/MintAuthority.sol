// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {GoldCoin} from "./GoldCoin.sol";

/// @title MintAuthority
/// @notice M-of-N authority over GoldCoin minting, modelled on Safe's signature scheme.
/// @dev A proposal is approved either by an EIP-712 signature that anyone may submit (ECDSA for
/// an account without code, ERC-1271 `isValidSignature` for a contract such as a Safe) or by the
/// authority calling `approve(proposalHash)` itself. The proposal hash is the full EIP-712
/// digest, so it binds the chain id and this contract's address.
/// NOTE: an authority account that carries EIP-7702 delegation code counts as a contract here,
/// so its signatures are checked only through ERC-1271 (OpenZeppelin 5.4 SignatureChecker).
///
/// Rules enforced at execution:
/// - Each nonce executes at most once, shared by mint proposals and authority-set changes, and
///   any unused uint256 may serve as a nonce. Proposals therefore execute in any order.
/// - A proposal is valid while `block.timestamp <= expiry`.
/// - Signed approvals must come sorted by strictly ascending authority address, which rules out
///   duplicates. An authority must not approve both by signature and on chain.
/// - Only current authorities count, so approvals by a removed authority stop counting, and
///   count again if it is re-added before the proposal expires.
/// - Every authority whose approval a mint execution counts is charged the mint amount against
///   its daily limit for the current UTC day (block.timestamp / 1 days). Submitting more
///   approvals than the threshold charges each of them.
///
/// Cancellation: any single authority may cancel a mint proposal, so one authority that sees a
/// problem (a reserve mismatch, a wrong recipient) can stop a mint on its own. Authority-set
/// changes cannot be cancelled by one authority, so a rogue authority cannot block its own
/// removal. They lapse at expiry, or a quorum can consume their nonce with another proposal.
contract MintAuthority is EIP712 {
    /// @notice Request to mint `amount` base units to `recipient`.
    /// @param reserveRef Reference to the reserve report or custody receipt backing the mint.
    /// @param expiry Last Unix time (seconds) at which the proposal can execute.
    struct MintProposal {
        address recipient;
        uint256 amount;
        bytes32 reserveRef;
        uint64 expiry;
        uint256 nonce;
    }

    /// @notice Replacement of the whole authority set.
    /// @param authorities New authorities in strictly ascending address order.
    /// @param dailyLimits Daily limit of each authority in base units, by position.
    struct AuthoritySetChange {
        address[] authorities;
        uint256[] dailyLimits;
        uint256 threshold;
        uint64 expiry;
        uint256 nonce;
    }

    /// @notice EIP-712 signature by `authority` over a proposal hash.
    struct Approval {
        address authority;
        bytes signature;
    }

    bytes32 public constant MINT_PROPOSAL_TYPEHASH =
        keccak256("MintProposal(address recipient,uint256 amount,bytes32 reserveRef,uint64 expiry,uint256 nonce)");
    bytes32 public constant AUTHORITY_SET_CHANGE_TYPEHASH =
        keccak256(
            "AuthoritySetChange(address[] authorities,uint256[] dailyLimits,uint256 threshold,uint64 expiry,uint256 nonce)"
        );
    /// @notice Upper bound on the set size, which keeps the per-execution loops cheap.
    uint256 public constant MAX_AUTHORITIES = 32;

    GoldCoin public immutable token;

    address[] private _authorities;
    mapping(address authority => bool) private _isAuthority;
    mapping(address authority => uint256) private _dailyLimit;
    uint256 private _threshold;

    mapping(uint256 nonce => bool) private _nonceUsed;
    mapping(bytes32 proposalHash => bool) private _cancelled;
    mapping(bytes32 proposalHash => mapping(address authority => bool)) private _approvedOnChain;
    mapping(address authority => mapping(uint256 day => uint256 amount)) private _mintedOnDay;

    event MintProposed(
        bytes32 indexed proposalHash,
        address indexed recipient,
        uint256 amount,
        bytes32 reserveRef,
        uint64 expiry,
        uint256 nonce,
        address indexed proposer
    );
    event AuthoritySetChangeProposed(
        bytes32 indexed proposalHash,
        address[] authorities,
        uint256[] dailyLimits,
        uint256 threshold,
        uint64 expiry,
        uint256 nonce,
        address indexed proposer
    );
    event Approved(bytes32 indexed proposalHash, address indexed authority);
    event ApprovalRevoked(bytes32 indexed proposalHash, address indexed authority);
    event MintCancelled(bytes32 indexed proposalHash, address indexed by);
    event MintExecuted(
        bytes32 indexed proposalHash,
        address indexed recipient,
        uint256 amount,
        bytes32 reserveRef,
        uint256 nonce,
        uint256 approvals
    );
    /// @notice The authority set was replaced; `proposalHash` is zero for the constructor's set.
    event AuthoritySetChanged(
        bytes32 indexed proposalHash,
        address[] authorities,
        uint256[] dailyLimits,
        uint256 threshold
    );

    error NotAuthority(address account);
    error InsufficientApprovals(uint256 got, uint256 needed);
    error ProposalExpired(uint64 expiry, uint256 blockTimestamp);
    error NonceUsed(uint256 nonce);
    error ProposalCancelled(bytes32 proposalHash);
    error InvalidSignature(address authority);
    /// @notice Signed approvals are not in strictly ascending authority order (or repeat one).
    error SignersNotAscending(address previous, address authority);
    /// @notice The authority approved on chain and also supplied a signature.
    error DuplicateApproval(address authority);
    error AlreadyApproved(bytes32 proposalHash, address authority);
    error NotApproved(bytes32 proposalHash, address authority);
    error DailyLimitExceeded(address authority, uint256 usedToday, uint256 amount, uint256 dailyLimit);
    error ZeroAmount();
    error ZeroAddress();
    error InvalidThreshold(uint256 threshold, uint256 authorityCount);
    error InvalidAuthorityCount(uint256 count, uint256 max);
    error LengthMismatch(uint256 authorityCount, uint256 dailyLimitCount);
    /// @notice New authorities are not in strictly ascending order (or repeat one).
    error AuthoritiesNotAscending(address previous, address authority);

    modifier onlyAuthority() {
        if (!_isAuthority[msg.sender]) revert NotAuthority(msg.sender);
        _;
    }

    /// @param token_ The GoldCoin this contract mints; it must hold MINTER_ROLE there.
    /// @param authorities_ Initial authorities, strictly ascending by address.
    /// @param dailyLimits_ Daily limit of each initial authority in base units.
    /// @param threshold_ Approvals needed to execute a proposal.
    constructor(
        GoldCoin token_,
        address[] memory authorities_,
        uint256[] memory dailyLimits_,
        uint256 threshold_
    ) EIP712("Kura MintAuthority", "1") {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        _validateSet(authorities_, dailyLimits_, threshold_);
        _replaceSet(authorities_, dailyLimits_, threshold_);
        emit AuthoritySetChanged(bytes32(0), authorities_, dailyLimits_, threshold_);
    }

    // ---------------------------------------------------------------- mint proposals

    /// @notice Publish a mint proposal on chain so other authorities can find it. Publishing
    /// is optional and does not approve; execution works from the proposal fields alone.
    function proposeMint(MintProposal calldata proposal) external onlyAuthority returns (bytes32 proposalHash) {
        proposalHash = hashMintProposal(proposal);
        _checkMintProposal(proposal, proposalHash);
        emit MintProposed(
            proposalHash,
            proposal.recipient,
            proposal.amount,
            proposal.reserveRef,
            proposal.expiry,
            proposal.nonce,
            msg.sender
        );
    }

    /// @notice Cancel a mint proposal for good. Any single authority may do this.
    function cancelMint(MintProposal calldata proposal) external onlyAuthority returns (bytes32 proposalHash) {
        proposalHash = hashMintProposal(proposal);
        if (_nonceUsed[proposal.nonce]) revert NonceUsed(proposal.nonce);
        if (_cancelled[proposalHash]) revert ProposalCancelled(proposalHash);
        _cancelled[proposalHash] = true;
        emit MintCancelled(proposalHash, msg.sender);
    }

    /// @notice Mint once the proposal has reached the threshold. Anyone may submit.
    /// @param approvals Signatures, sorted by ascending authority address; on-chain approvals
    /// are added to them.
    function executeMint(
        MintProposal calldata proposal,
        Approval[] calldata approvals
    ) external returns (bytes32 proposalHash) {
        proposalHash = hashMintProposal(proposal);
        _checkMintProposal(proposal, proposalHash);
        (address[] memory approvers, uint256 count) = _collectApprovers(proposalHash, approvals);
        _chargeDailyLimits(approvers, count, proposal.amount);

        _nonceUsed[proposal.nonce] = true;
        emit MintExecuted(
            proposalHash,
            proposal.recipient,
            proposal.amount,
            proposal.reserveRef,
            proposal.nonce,
            count
        );
        token.mint(proposal.recipient, proposal.amount);
    }

    // ---------------------------------------------------------------- authority-set changes

    /// @notice Publish an authority-set change on chain; like `proposeMint` it does not approve.
    function proposeAuthoritySetChange(
        AuthoritySetChange calldata change
    ) external onlyAuthority returns (bytes32 proposalHash) {
        proposalHash = hashAuthoritySetChange(change);
        _checkSetChange(change);
        emit AuthoritySetChangeProposed(
            proposalHash,
            change.authorities,
            change.dailyLimits,
            change.threshold,
            change.expiry,
            change.nonce,
            msg.sender
        );
    }

    /// @notice Replace the authority set once the current set's threshold has approved.
    function executeAuthoritySetChange(
        AuthoritySetChange calldata change,
        Approval[] calldata approvals
    ) external returns (bytes32 proposalHash) {
        proposalHash = hashAuthoritySetChange(change);
        _checkSetChange(change);
        _collectApprovers(proposalHash, approvals);

        _nonceUsed[change.nonce] = true;
        _replaceSet(change.authorities, change.dailyLimits, change.threshold);
        emit AuthoritySetChanged(proposalHash, change.authorities, change.dailyLimits, change.threshold);
    }

    // ---------------------------------------------------------------- on-chain approvals

    /// @notice Approve a proposal hash from the calling authority, the route for contract
    /// authorities that cannot sign offline.
    function approve(bytes32 proposalHash) external onlyAuthority {
        if (_approvedOnChain[proposalHash][msg.sender]) revert AlreadyApproved(proposalHash, msg.sender);
        _approvedOnChain[proposalHash][msg.sender] = true;
        emit Approved(proposalHash, msg.sender);
    }

    /// @notice Withdraw an earlier on-chain approval; offline signatures cannot be withdrawn.
    function revokeApproval(bytes32 proposalHash) external onlyAuthority {
        if (!_approvedOnChain[proposalHash][msg.sender]) revert NotApproved(proposalHash, msg.sender);
        _approvedOnChain[proposalHash][msg.sender] = false;
        emit ApprovalRevoked(proposalHash, msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @notice EIP-712 digest of a mint proposal: the hash authorities sign or approve.
    function hashMintProposal(MintProposal calldata proposal) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                MINT_PROPOSAL_TYPEHASH,
                proposal.recipient,
                proposal.amount,
                proposal.reserveRef,
                proposal.expiry,
                proposal.nonce
            )
        );
        return _hashTypedDataV4(structHash);
    }

    /// @notice EIP-712 digest of an authority-set change. Arrays are hashed as EIP-712
    /// prescribes: keccak256 of the concatenated 32-byte encodings of their elements.
    function hashAuthoritySetChange(AuthoritySetChange calldata change) public view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                AUTHORITY_SET_CHANGE_TYPEHASH,
                keccak256(abi.encodePacked(change.authorities)),
                keccak256(abi.encodePacked(change.dailyLimits)),
                change.threshold,
                change.expiry,
                change.nonce
            )
        );
        return _hashTypedDataV4(structHash);
    }

    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function authorities() external view returns (address[] memory) {
        return _authorities;
    }

    function threshold() external view returns (uint256) {
        return _threshold;
    }

    function isAuthority(address account) external view returns (bool) {
        return _isAuthority[account];
    }

    /// @notice Daily mint limit of `authority` in base units; zero for a non-authority.
    function dailyLimit(address authority) external view returns (uint256) {
        return _dailyLimit[authority];
    }

    /// @notice Amount charged to `authority` on UTC day `day` (Unix time / 86400).
    function mintedOnDay(address authority, uint256 day) external view returns (uint256) {
        return _mintedOnDay[authority][day];
    }

    /// @notice What `authority` may still approve today, in base units.
    function remainingToday(address authority) external view returns (uint256) {
        uint256 used = _mintedOnDay[authority][block.timestamp / 1 days];
        uint256 limit = _dailyLimit[authority];
        return used >= limit ? 0 : limit - used;
    }

    function isNonceUsed(uint256 nonce) external view returns (bool) {
        return _nonceUsed[nonce];
    }

    function isCancelled(bytes32 proposalHash) external view returns (bool) {
        return _cancelled[proposalHash];
    }

    function isApprovedOnChain(bytes32 proposalHash, address authority) external view returns (bool) {
        return _approvedOnChain[proposalHash][authority];
    }

    // ---------------------------------------------------------------- internals

    function _checkMintProposal(MintProposal calldata proposal, bytes32 proposalHash) private view {
        if (_nonceUsed[proposal.nonce]) revert NonceUsed(proposal.nonce);
        if (_cancelled[proposalHash]) revert ProposalCancelled(proposalHash);
        if (block.timestamp > proposal.expiry) revert ProposalExpired(proposal.expiry, block.timestamp);
        if (proposal.recipient == address(0)) revert ZeroAddress();
        if (proposal.amount == 0) revert ZeroAmount();
    }

    function _checkSetChange(AuthoritySetChange calldata change) private view {
        if (_nonceUsed[change.nonce]) revert NonceUsed(change.nonce);
        if (block.timestamp > change.expiry) revert ProposalExpired(change.expiry, block.timestamp);
        _validateSet(change.authorities, change.dailyLimits, change.threshold);
    }

    /// @dev Returns the approving authorities in `approvers[0:count]`: first the signers, then
    /// the current authorities with an on-chain approval. Reverts unless count >= threshold.
    function _collectApprovers(
        bytes32 proposalHash,
        Approval[] calldata approvals
    ) private view returns (address[] memory approvers, uint256 count) {
        uint256 authorityCount = _authorities.length;
        approvers = new address[](approvals.length + authorityCount);

        address previous = address(0);
        for (uint256 i = 0; i < approvals.length; ++i) {
            address authority = approvals[i].authority;
            if (authority <= previous) revert SignersNotAscending(previous, authority);
            previous = authority;
            if (!_isAuthority[authority]) revert NotAuthority(authority);
            if (_approvedOnChain[proposalHash][authority]) revert DuplicateApproval(authority);
            if (!SignatureChecker.isValidSignatureNow(authority, proposalHash, approvals[i].signature)) {
                revert InvalidSignature(authority);
            }
            approvers[count++] = authority;
        }

        for (uint256 i = 0; i < authorityCount; ++i) {
            address authority = _authorities[i];
            if (_approvedOnChain[proposalHash][authority]) approvers[count++] = authority;
        }

        if (count < _threshold) revert InsufficientApprovals(count, _threshold);
    }

    function _chargeDailyLimits(address[] memory approvers, uint256 count, uint256 amount) private {
        uint256 day = block.timestamp / 1 days;
        for (uint256 i = 0; i < count; ++i) {
            address authority = approvers[i];
            uint256 used = _mintedOnDay[authority][day];
            uint256 limit = _dailyLimit[authority];
            if (amount > limit || used > limit - amount) {
                revert DailyLimitExceeded(authority, used, amount, limit);
            }
            _mintedOnDay[authority][day] = used + amount;
        }
    }

    function _validateSet(
        address[] memory newAuthorities,
        uint256[] memory newDailyLimits,
        uint256 newThreshold
    ) private pure {
        uint256 count = newAuthorities.length;
        if (count == 0 || count > MAX_AUTHORITIES) revert InvalidAuthorityCount(count, MAX_AUTHORITIES);
        if (newDailyLimits.length != count) revert LengthMismatch(count, newDailyLimits.length);
        if (newThreshold == 0 || newThreshold > count) revert InvalidThreshold(newThreshold, count);

        // Strictly ascending from the zero address also rejects the zero address itself.
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            if (newAuthorities[i] <= previous) revert AuthoritiesNotAscending(previous, newAuthorities[i]);
            previous = newAuthorities[i];
        }
    }

    function _replaceSet(
        address[] memory newAuthorities,
        uint256[] memory newDailyLimits,
        uint256 newThreshold
    ) private {
        uint256 oldCount = _authorities.length;
        for (uint256 i = 0; i < oldCount; ++i) {
            address old = _authorities[i];
            delete _isAuthority[old];
            delete _dailyLimit[old];
        }
        delete _authorities;

        for (uint256 i = 0; i < newAuthorities.length; ++i) {
            _authorities.push(newAuthorities[i]);
            _isAuthority[newAuthorities[i]] = true;
            _dailyLimit[newAuthorities[i]] = newDailyLimits[i];
        }
        _threshold = newThreshold;
    }
}
