// File: services/deals/clients.h
// -----------------------------------------------------------------------------
// Clients and contacts (D5, seed 003): ClientStore keeps clients (a company or a person), their contact
// people and the contacts of deals in PostgreSQL; ClientServiceImpl serves crm.deals.v1.ClientService
// with thin handlers over it.
//
// What the store promises:
//   - phones are stored in E.164 (libphonenumber, default region RU), e-mails trimmed with the domain
//     lower-cased, ИНН checksum-validated; a bad value is INVALID_ARGUMENT naming it ("client.phones[1]");
//   - a new client sharing a normalised phone, e-mail or ИНН with an existing one is ALREADY_EXISTS naming
//     the existing client's id, unless allow_duplicate (creates are serialised, so two racing creates of
//     the same phone cannot both pass);
//   - clients.read / clients.write guard clients and contacts; deal contacts also need read / write access
//     to the deal (access.h), an invisible deal being NOT_FOUND;
//   - a deal has at most one main contact: making one main unsets the previous, the first contact added to
//     a deal becomes main, removing the main contact promotes none;
//   - a contact added to a deal that has a client is linked to that client too; removing a contact from a
//     deal leaves it with its clients;
//   - crm.deals.client.created.v1 / updated.v1 (aggregate "client") are committed with the change;
//   - ListClients' query (a part of the name, a phone or an e-mail) is matched on trigram indexes and
//     FindDuplicates on the phone, e-mail and ИНН indexes, however many clients there are (issue 14;
//     lists_plan_test.cc EXPLAINs what the store sends on 1 000 000 clients).
//
// Example:
//   crm::deals::ClientStore clients(*pool, crm::SystemClock());
//   crm::deals::ClientServiceImpl client_service(clients);
//   server.AddService(&client_service);
//   // In the deals code, in the transaction that gives a deal its client:
//   CRM_RETURN_IF_ERROR(crm::deals::CopyClientContactsToDeal(tx, deal_id, client_id).status());
#ifndef CRM_SERVICES_DEALS_CLIENTS_H_
#define CRM_SERVICES_DEALS_CLIENTS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/clients.grpc.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals {

// Event types written to the outbox (topic crm.deals.client.v1).
inline constexpr char kClientCreatedType[] = "crm.deals.client.created.v1";
inline constexpr char kClientUpdatedType[] = "crm.deals.client.updated.v1";

// Permissions.
inline constexpr char kClientsRead[] = "clients.read";
// Issue 17: read a person's passport on the client card (personal data, clients.proto Client.passport).
inline constexpr char kPassportReadPermission[] = "clients.passport.read";
inline constexpr char kClientsWrite[] = "clients.write";

// Returns `raw` as an E.164 phone number ("+79161234567"), parsed with region RU when it has no
// country code; InvalidArgument naming `field` when it is not a valid number.
absl::StatusOr<std::string> NormalizePhone(std::string_view field, std::string_view raw);

// Returns `raw` trimmed with its domain lower-cased; InvalidArgument naming `field` when it is not a
// plausible address (one '@', non-empty local part, a dotted domain, no spaces, ≤ 254 bytes).
absl::StatusOr<std::string> NormalizeEmail(std::string_view field, std::string_view raw);

// Returns whether `inn` is a Russian ИНН: 10 digits (organisation) or 12 (person) with valid check digits.
bool IsValidInn(std::string_view inn);

// Gives deal `deal_id` every contact of client `client_id` (in the order the client got them), skipping
// those it already has; if the deal then has no main contact, the first contact becomes main. Runs in
// the caller's transaction `tx` and checks no access (the caller already decided the deal may change).
// Returns how many contacts were added; NotFound "client not found" for an unknown client.
absl::StatusOr<int> CopyClientContactsToDeal(pqxx::transaction_base& tx, std::string_view deal_id,
                                             std::string_view client_id);

// Clients, contacts and deal contacts in PostgreSQL (migration 0003 plus the events outbox). Thread-safe;
// the pool and clock must outlive it. Errors as in clients.proto.
class ClientStore {
 public:
  ClientStore(pg::Pool& pool, const Clock& clock);

  // Creates `client` (id, version, times set here) and writes ClientCreated.
  absl::StatusOr<crm::deals::v1::Client> CreateClient(const Actor& actor,
                                                      const crm::deals::v1::Client& client,
                                                      bool allow_duplicate);
  // The client `id`.
  absl::StatusOr<crm::deals::v1::Client> GetClient(const crm::common::v1::Principal& caller,
                                                   std::string_view id);
  // Applies the paths of `mask` when client.version matches; bumps the version and writes ClientUpdated.
  // Nothing is written when nothing changed.
  absl::StatusOr<crm::deals::v1::Client> UpdateClient(const Actor& actor,
                                                      const crm::deals::v1::Client& client,
                                                      const google::protobuf::FieldMask& mask);
  // Clients matching the query, by lower-cased name then id.
  absl::StatusOr<crm::deals::v1::ListClientsResponse> ListClients(
      const crm::common::v1::Principal& caller, const crm::deals::v1::ListClientsRequest& req);
  // The clients of req.ids in the order asked, and the ids of none (issue 16; at most 200 ids).
  absl::StatusOr<crm::deals::v1::BatchGetClientsResponse> BatchGetClients(
      const crm::common::v1::Principal& caller, const crm::deals::v1::BatchGetClientsRequest& req);
  // Clients sharing any of the given (normalised) phone, e-mail or ИНН, oldest first.
  absl::StatusOr<crm::deals::v1::FindDuplicatesResponse> FindDuplicates(
      const crm::common::v1::Principal& caller, const crm::deals::v1::FindDuplicatesRequest& req);

  // Creates a contact of client `client_id`.
  absl::StatusOr<crm::deals::v1::Contact> CreateContact(const Actor& actor, std::string_view client_id,
                                                        const crm::deals::v1::Contact& contact);
  // The contacts of client `client_id`, in the order it got them.
  absl::StatusOr<crm::deals::v1::ListContactsResponse> ListContacts(const crm::common::v1::Principal& caller,
                                                                    std::string_view client_id);
  // A page of them (page_size / page_token, README "Lists").
  absl::StatusOr<crm::deals::v1::ListContactsResponse> ListContacts(const crm::common::v1::Principal& caller,
                                                              const crm::deals::v1::ListContactsRequest& req);
  // Applies the paths of `mask` when contact.version matches.
  absl::StatusOr<crm::deals::v1::Contact> UpdateContact(const Actor& actor,
                                                        const crm::deals::v1::Contact& contact,
                                                        const google::protobuf::FieldMask& mask);

  // Adds a contact to a deal (seed 003 rules above); returns the deal's contacts afterwards.
  absl::StatusOr<crm::deals::v1::ListDealContactsResponse> AddDealContact(
      const Actor& actor, const crm::deals::v1::AddDealContactRequest& req);
  // Removes a contact from a deal only; NotFound if the deal does not have it.
  absl::StatusOr<crm::deals::v1::ListDealContactsResponse> RemoveDealContact(
      const Actor& actor, const crm::deals::v1::RemoveDealContactRequest& req);
  // The deal's contacts, main first, then in the order added.
  absl::StatusOr<crm::deals::v1::ListDealContactsResponse> ListDealContacts(
      const crm::common::v1::Principal& caller, std::string_view deal_id);
  // A page of them (page_size / page_token, README "Lists").
  absl::StatusOr<crm::deals::v1::ListDealContactsResponse> ListDealContacts(const crm::common::v1::Principal& caller,
                                                              const crm::deals::v1::ListDealContactsRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.ClientService over a ClientStore (which must outlive it).
class ClientServiceImpl final : public crm::deals::v1::ClientService::Service {
 public:
  explicit ClientServiceImpl(ClientStore& store) : store_(store) {}

  grpc::Status CreateClient(grpc::ServerContext* ctx, const crm::deals::v1::CreateClientRequest* req,
                            crm::deals::v1::Client* out) override;
  grpc::Status GetClient(grpc::ServerContext* ctx, const crm::deals::v1::GetClientRequest* req,
                         crm::deals::v1::Client* out) override;
  grpc::Status UpdateClient(grpc::ServerContext* ctx, const crm::deals::v1::UpdateClientRequest* req,
                            crm::deals::v1::Client* out) override;
  grpc::Status ListClients(grpc::ServerContext* ctx, const crm::deals::v1::ListClientsRequest* req,
                           crm::deals::v1::ListClientsResponse* out) override;
  grpc::Status BatchGetClients(grpc::ServerContext* ctx, const crm::deals::v1::BatchGetClientsRequest* req,
                               crm::deals::v1::BatchGetClientsResponse* out) override;
  grpc::Status FindDuplicates(grpc::ServerContext* ctx, const crm::deals::v1::FindDuplicatesRequest* req,
                              crm::deals::v1::FindDuplicatesResponse* out) override;
  grpc::Status CreateContact(grpc::ServerContext* ctx, const crm::deals::v1::CreateContactRequest* req,
                             crm::deals::v1::Contact* out) override;
  grpc::Status ListContacts(grpc::ServerContext* ctx, const crm::deals::v1::ListContactsRequest* req,
                            crm::deals::v1::ListContactsResponse* out) override;
  grpc::Status UpdateContact(grpc::ServerContext* ctx, const crm::deals::v1::UpdateContactRequest* req,
                             crm::deals::v1::Contact* out) override;
  grpc::Status AddDealContact(grpc::ServerContext* ctx, const crm::deals::v1::AddDealContactRequest* req,
                              crm::deals::v1::ListDealContactsResponse* out) override;
  grpc::Status RemoveDealContact(grpc::ServerContext* ctx,
                                 const crm::deals::v1::RemoveDealContactRequest* req,
                                 crm::deals::v1::ListDealContactsResponse* out) override;
  grpc::Status ListDealContacts(grpc::ServerContext* ctx, const crm::deals::v1::ListDealContactsRequest* req,
                                crm::deals::v1::ListDealContactsResponse* out) override;

 private:
  ClientStore& store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_CLIENTS_H_
